// Package ext stands in for Traefik's pkg/config/dynamic/ext, which its module zip leaves out (its go.mod
// points at it with a local replace). Traefik only embeds these two types in its dynamic configuration and
// copies them by value, so empty types compile to the same behaviour for everything but the fields an
// out-of-tree extension would add.
package ext

// HTTP is embedded in dynamic.HTTPConfiguration.
type HTTP struct{}

// Router is embedded in dynamic.Router.
type Router struct{}
