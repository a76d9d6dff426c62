// lua runs an Argo CD resource health script the way Argo CD does: with
// gopher-lua (the interpreter Argo CD embeds), the object as the global table
// "obj", and the returned table ({status, message}) printed as JSON.
// Usage: lua SCRIPT.lua < object.json
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	lua "github.com/yuin/gopher-lua"
)

func main() {
	if len(os.Args) != 2 {
		fail(fmt.Errorf("usage: lua SCRIPT.lua < object.json"))
	}
	script, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail(err)
	}
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	var object interface{}
	if err := json.Unmarshal(input, &object); err != nil {
		fail(err)
	}
	// Like Argo CD: only the base, table and string libraries, no os or io.
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	L.SetGlobal("obj", toLua(L, object))
	if err := L.DoString(string(script)); err != nil {
		fail(err)
	}
	result := fromLua(L.Get(-1))
	if err := json.NewEncoder(os.Stdout).Encode(result); err != nil {
		fail(err)
	}
}

func toLua(L *lua.LState, value interface{}) lua.LValue {
	switch v := value.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []interface{}:
		table := L.NewTable()
		for _, item := range v {
			table.Append(toLua(L, item))
		}
		return table
	case map[string]interface{}:
		table := L.NewTable()
		for k, item := range v {
			table.RawSetString(k, toLua(L, item))
		}
		return table
	}
	return lua.LNil
}

func fromLua(value lua.LValue) interface{} {
	switch v := value.(type) {
	case lua.LBool:
		return bool(v)
	case lua.LNumber:
		return float64(v)
	case lua.LString:
		return string(v)
	case *lua.LTable:
		result := map[string]interface{}{}
		v.ForEach(func(k, item lua.LValue) { result[k.String()] = fromLua(item) })
		return result
	}
	return nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "lua:", err)
	os.Exit(1)
}
