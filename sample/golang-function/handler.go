// Package handler is a golang job: Perform receives the JSON body of /api/v1/perform.
package handler

import (
	"errors"
	"log"

	"github.com/google/uuid"
)

// instanceID shows a module dependency at work: go.mod/go.sum are resolved through the Go module
// proxy while the image is built.
var instanceID = uuid.NewString()

func init() {
	log.Printf("golang-adder instance %s initialised", instanceID) // one-time setup goes in init()
}

// Perform adds the numbers of input["numbers"].
func Perform(input map[string]interface{}) (interface{}, error) {
	numbers, ok := input["numbers"].([]interface{})
	if !ok {
		return nil, errors.New("numbers must be a list of numbers")
	}
	sum := 0.0
	for _, item := range numbers {
		value, ok := item.(float64)
		if !ok {
			return nil, errors.New("numbers must be a list of numbers")
		}
		sum += value
	}
	return sum, nil
}
