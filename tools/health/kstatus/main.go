// kstatus prints what sigs.k8s.io/cli-utils' kstatus (the health library Flux
// uses) computes for Kubernetes objects: one JSON line per object read from
// stdin (a JSON object, or a List of them), {"status": "...", "message": "..."}.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func main() {
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	var object map[string]interface{}
	if err := json.Unmarshal(input, &object); err != nil {
		fail(err)
	}
	objects := []map[string]interface{}{object}
	if items, ok := object["items"].([]interface{}); ok {
		objects = objects[:0]
		for _, item := range items {
			objects = append(objects, item.(map[string]interface{}))
		}
	}
	out := json.NewEncoder(os.Stdout)
	for _, o := range objects {
		result, err := status.Compute(&unstructured.Unstructured{Object: o})
		if err != nil {
			fail(err)
		}
		if err := out.Encode(map[string]string{"status": result.Status.String(), "message": result.Message}); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "kstatus:", err)
	os.Exit(1)
}
