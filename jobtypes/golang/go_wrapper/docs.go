package main

import (
	"encoding/json"
	"fmt"
	"html"
	"log"
	"os"
	"path/filepath"
	"strings"
)

// The Swagger page loads Swagger UI from the job itself, never from a CDN: the image holds the
// files of PyPI's swagger-ui-bundle in JOB_SWAGGER_UI_DIR (see jobtypes/swagger_ui/), read into
// memory at start and served under <base>/docs/static/. The page refers to them relatively
// (it is <base>/docs), so it works at the root and under /pub/job/<name>/<version>.
const swaggerAssetPath = "/docs/static/"

// The URLs carry Swagger UI's version (?v=), so browsers may keep the files for a year.
const assetCacheControl = "public, max-age=31536000, immutable"

var swaggerFiles = map[string]string{
	"swagger-ui-bundle.js": "application/javascript; charset=utf-8",
	"swagger-ui.css":       "text/css; charset=utf-8",
	"favicon-32x32.png":    "image/png",
	"favicon-16x16.png":    "image/png",
}

type swaggerAssets struct {
	dir     string
	version string
	files   map[string][]byte
}

func loadSwaggerAssets(dir string) *swaggerAssets {
	assets := &swaggerAssets{dir: dir, version: "none", files: map[string][]byte{}}
	if dir == "" {
		log.Printf("JOB_SWAGGER_UI_DIR is not set: the Swagger page has no scripts")
		return assets
	}
	if version, err := os.ReadFile(filepath.Join(dir, "VERSION")); err == nil {
		assets.version = strings.TrimSpace(string(version))
	}
	for name := range swaggerFiles {
		body, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			log.Printf("Swagger UI file missing: %v", err)
			continue
		}
		assets.files[name] = body
	}
	return assets
}

func swaggerPage(jobName, specURL, version string) string {
	quoted, _ := json.Marshal(specURL) // encoding/json escapes <, > and & in strings
	assets := strings.TrimPrefix(swaggerAssetPath, "/")
	query := "?v=" + html.EscapeString(version)
	return fmt.Sprintf(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Job %s - Swagger UI</title>
<link rel="stylesheet" href="%sswagger-ui.css%s">
<link rel="icon" type="image/png" href="%sfavicon-32x32.png%s" sizes="32x32">
<link rel="icon" type="image/png" href="%sfavicon-16x16.png%s" sizes="16x16"></head>
<body><div id="swagger-ui"></div>
<script src="%sswagger-ui-bundle.js%s"></script>
<script>
window.ui = SwaggerUIBundle({url: %s, dom_id: "#swagger-ui", deepLinking: true, persistAuthorization: true,
  tryItOutEnabled: true, validatorUrl: null});
</script>
</body></html>
`, html.EscapeString(jobName), assets, query, assets, query, assets, query, assets, query, quoted)
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
