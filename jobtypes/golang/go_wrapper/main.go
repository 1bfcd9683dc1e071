// Command job-server serves a Go job: the user's package exposes
//
//	func Perform(input map[string]interface{}) (interface{}, error)
//
// and this server gives it the Racetrack job endpoints (perform, health, metrics, Swagger), at the
// root and under /pub/job/<name>/<version>/. The import path below is replaced at build time by
// the module path of the user's go.mod.
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	handler "racetrack.local/jobhandler"
)

func main() {
	port := os.Getenv("JOB_PORT")
	if port == "" {
		port = "7000"
	}
	srv := newServer(handler.Perform)
	log.Printf("job %s %s serving on :%s", srv.jobName, srv.jobVersion, port)
	httpServer := &http.Server{
		Addr:              ":" + port,
		Handler:           srv,
		ReadHeaderTimeout: 30 * time.Second,
	}
	log.Fatal(httpServer.ListenAndServe())
}

type performFunc func(map[string]interface{}) (interface{}, error)

type server struct {
	perform       performFunc
	jobName       string
	jobVersion    string
	deployedAt    string
	tracingHeader string
	callerHeader  string
	logCaller     bool
	example       json.RawMessage
	metrics       *metrics
	swagger       *swaggerAssets
}

func newServer(perform performFunc) *server {
	s := &server{
		perform:       perform,
		jobName:       envOr("JOB_NAME", "job"),
		jobVersion:    envOr("JOB_VERSION", "0.0.1"),
		deployedAt:    envOr("JOB_DEPLOYMENT_TIMESTAMP", "0"),
		tracingHeader: envOr("REQUEST_TRACING_HEADER", "X-Request-Tracing-Id"),
		callerHeader:  envOr("CALLER_NAME_HEADER", "X-Caller-Name"),
		logCaller:     strings.EqualFold(os.Getenv("LOG_CALLER_NAME"), "true"),
		metrics:       newMetrics(),
		swagger:       loadSwaggerAssets(os.Getenv("JOB_SWAGGER_UI_DIR")),
	}
	if example := os.Getenv("JOB_DOCS_INPUT_EXAMPLE"); example != "" && json.Valid([]byte(example)) {
		s.example = json.RawMessage(example)
	}
	return s
}

func envOr(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}

// splitPrefix turns /pub/job/<name>/<version>/rest into ("/pub/job/<name>/<version>", "/rest").
func splitPrefix(path string) (string, string) {
	if strings.HasPrefix(path, "/pub/job/") || strings.HasPrefix(path, "/pub/fatman/") {
		parts := strings.SplitN(path, "/", 6)
		if len(parts) >= 5 {
			base := strings.Join(parts[:5], "/")
			if len(parts) == 6 {
				return base, "/" + parts[5]
			}
			return base, ""
		}
	}
	return "", path
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	base, path := splitPrefix(r.URL.Path)
	switch {
	case path == "/api/v1/perform" && r.Method == http.MethodPost:
		s.handlePerform(w, r)
	case path == "/health":
		writeJSON(w, http.StatusOK, map[string]interface{}{
			"service": "job", "job_name": s.jobName, "job_version": s.jobVersion,
			"git_version": os.Getenv("GIT_VERSION"), "job_type_version": os.Getenv("JOB_TYPE_VERSION"),
			"deployed_by_racetrack_version": os.Getenv("DEPLOYED_BY_RACETRACK_VERSION"),
			"deployment_timestamp":          s.deployedAt, "live": true, "ready": true, "status": "pass", "error": nil,
		})
	case path == "/live":
		writeJSON(w, http.StatusOK, map[string]interface{}{"live": true, "deployment_timestamp": s.deployedAt})
	case path == "/ready":
		writeJSON(w, http.StatusOK, map[string]interface{}{"ready": true})
	case path == "/metrics":
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_, _ = w.Write([]byte(s.metrics.render()))
	case path == "/docs":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(swaggerPage(s.jobName, base+"/openapi.json", s.swagger.version)))
	case strings.HasPrefix(path, swaggerAssetPath) && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		s.serveSwaggerAsset(w, strings.TrimPrefix(path, swaggerAssetPath))
	case path == "/openapi.json":
		writeJSON(w, http.StatusOK, s.openapi(base))
	case path == "" || path == "/":
		http.Redirect(w, r, base+"/docs", http.StatusTemporaryRedirect)
	case path == "/api/v1/perform":
		writeError(w, http.StatusMethodNotAllowed, "use POST for /api/v1/perform")
	default:
		writeError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s in this job", r.Method, path))
	}
}

func (s *server) serveSwaggerAsset(w http.ResponseWriter, name string) {
	body, ok := s.swagger.files[name]
	if !ok {
		where := s.swagger.dir
		if where == "" {
			where = "JOB_SWAGGER_UI_DIR, which is not set"
		}
		writeError(w, http.StatusNotFound, fmt.Sprintf("Swagger UI file %s is not installed in this job (looked in %s)", name, where))
		return
	}
	w.Header().Set("Content-Type", swaggerFiles[name])
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("Cache-Control", assetCacheControl)
	_, _ = w.Write(body) // net/http drops the body of a HEAD response
}

func (s *server) handlePerform(w http.ResponseWriter, r *http.Request) {
	started := time.Now()
	s.metrics.started()
	status := s.performOnce(w, r)
	s.metrics.done(status, time.Since(started).Seconds())
}

func (s *server) performOnce(w http.ResponseWriter, r *http.Request) (status int) {
	if tracing := r.Header.Get(s.tracingHeader); tracing != "" {
		w.Header().Set(s.tracingHeader, tracing)
	}
	if s.logCaller {
		log.Printf("perform called by %s", r.Header.Get(s.callerHeader))
	}
	input := map[string]interface{}{}
	decoder := json.NewDecoder(r.Body)
	decoder.UseNumber()
	if err := decoder.Decode(&input); err != nil && err.Error() != "EOF" {
		return writeError(w, http.StatusBadRequest, "request body must be a JSON object of perform's input: "+err.Error())
	}
	normalizeNumbers(input)
	defer func() {
		if recovered := recover(); recovered != nil {
			log.Printf("perform panicked: %v", recovered)
			status = writeError(w, http.StatusInternalServerError, fmt.Sprintf("perform failed: panic: %v", recovered))
		}
	}()
	result, err := s.perform(input)
	if err != nil {
		log.Printf("perform failed: %v", err)
		return writeError(w, http.StatusInternalServerError, "perform failed: "+err.Error())
	}
	return writeJSON(w, http.StatusOK, result)
}

// normalizeNumbers turns json.Number values into float64, so Perform sees numbers exactly as with
// encoding/json's defaults (UseNumber only served to reject nothing silently while decoding).
func normalizeNumbers(value interface{}) interface{} {
	switch v := value.(type) {
	case json.Number:
		f, _ := v.Float64()
		return f
	case map[string]interface{}:
		for key, item := range v {
			v[key] = normalizeNumbers(item)
		}
	case []interface{}:
		for i, item := range v {
			v[i] = normalizeNumbers(item)
		}
	}
	return value
}

func writeJSON(w http.ResponseWriter, status int, value interface{}) int {
	body, err := json.Marshal(value)
	if err != nil {
		status = http.StatusInternalServerError
		body, _ = json.Marshal(map[string]string{"error": "result cannot be encoded as JSON: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return status
}

func writeError(w http.ResponseWriter, status int, message string) int {
	return writeJSON(w, status, map[string]string{"error": message})
}
