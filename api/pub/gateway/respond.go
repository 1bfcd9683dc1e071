package main

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// writeJSON answers with a compact JSON body and its length.
func writeJSON(w http.ResponseWriter, status int, payload any) {
	body, err := json.Marshal(payload)
	if err != nil {
		body = []byte(`{"error":"cannot encode the answer"}`)
		status = http.StatusInternalServerError
	}
	header := w.Header()
	header.Set("Content-Type", "application/json")
	header.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// proxyError is upstream pub's error shape: {"error", "requestId", and the job's name, version, status when known}.
type proxyError struct {
	Error      string `json:"error"`
	RequestID  string `json:"requestId"`
	JobName    string `json:"jobName,omitempty"`
	JobVersion string `json:"jobVersion,omitempty"`
	JobStatus  string `json:"jobStatus,omitempty"`
}

func writeError(w http.ResponseWriter, status int, body proxyError) {
	writeJSON(w, status, body)
}
