// Package handler is a golang job that runs a program installed by system_dependencies (jq).
package handler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
)

// Perform applies the jq filter input["filter"] to input["data"].
func Perform(input map[string]interface{}) (interface{}, error) {
	filter, ok := input["filter"].(string)
	if !ok {
		return nil, errors.New("filter must be a jq filter, e.g. \".items | length\"")
	}
	data, err := json.Marshal(input["data"])
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	command := exec.Command("jq", "-c", filter)
	command.Stdin = bytes.NewReader(data)
	command.Stderr = &stderr
	output, err := command.Output()
	if err != nil {
		return nil, fmt.Errorf("jq failed: %v: %s", err, stderr.String())
	}
	var result interface{}
	if err := json.Unmarshal(output, &result); err != nil {
		return nil, err
	}
	return result, nil
}
