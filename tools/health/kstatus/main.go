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
	// Decoded as the API machinery does (integers stay int64, which kstatus expects).
	var objects []unstructured.Unstructured
	var probe struct {
		Items json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(input, &probe); err != nil {
		fail(err)
	}
	if probe.Items != nil {
		list := &unstructured.UnstructuredList{}
		if err := list.UnmarshalJSON(input); err != nil {
			fail(err)
		}
		objects = list.Items
	} else {
		object := unstructured.Unstructured{}
		if err := object.UnmarshalJSON(input); err != nil {
			fail(err)
		}
		objects = append(objects, object)
	}
	out := json.NewEncoder(os.Stdout)
	for i := range objects {
		result, err := status.Compute(&objects[i])
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
