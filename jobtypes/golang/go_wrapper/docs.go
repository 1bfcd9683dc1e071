package main

import (
	"encoding/json"
	"fmt"
)

const swaggerCDN = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5"

func swaggerPage(jobName, specURL string) string {
	quoted, _ := json.Marshal(specURL)
	return fmt.Sprintf(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Job %s - Swagger UI</title>
<link rel="stylesheet" href="%s/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="%s/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({url: %s, dom_id: "#swagger-ui", persistAuthorization: true, tryItOutEnabled: true});
</script>
</body></html>
`, jobName, swaggerCDN, swaggerCDN, quoted)
}

func (s *server) openapi(base string) map[string]interface{} {
	if base == "" {
		base = "/"
	}
	body := map[string]interface{}{"schema": map[string]interface{}{"type": "object"}}
	if s.example != nil {
		body["example"] = s.example
	}
	status := func(text string) map[string]interface{} {
		return map[string]interface{}{"get": map[string]interface{}{
			"summary": text, "tags": []string{"health"},
			"responses": map[string]interface{}{"200": map[string]string{"description": "Status"}},
		}}
	}
	return map[string]interface{}{
		"openapi": "3.0.3",
		"info":    map[string]string{"title": "Job " + s.jobName, "version": s.jobVersion},
		"servers": []map[string]string{{"url": base}},
		"paths": map[string]interface{}{
			"/api/v1/perform": map[string]interface{}{"post": map[string]interface{}{
				"summary": "Call the job's Perform function", "operationId": "perform", "tags": []string{"job"},
				"requestBody": map[string]interface{}{"required": true,
					"content": map[string]interface{}{"application/json": body}},
				"responses": map[string]interface{}{
					"200": map[string]string{"description": "The result of Perform"},
					"400": map[string]string{"description": "The body is not a JSON object"},
					"500": map[string]string{"description": "Perform returned an error"},
				},
			}},
			"/health":  status("Health of the job"),
			"/live":    status("Whether the job is alive"),
			"/ready":   status("Whether the job is ready"),
			"/metrics": status("Prometheus metrics"),
		},
		"components": map[string]interface{}{"securitySchemes": map[string]interface{}{
			"RacetrackAuth": map[string]string{"type": "apiKey", "in": "header", "name": "X-Racetrack-Auth"},
		}},
		"security": []map[string][]string{{"RacetrackAuth": {}}},
	}
}
