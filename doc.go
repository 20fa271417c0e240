// Package efferent holds the small value types that travel along the data
// path (camera → policy → detokenizer → scheduler → safety → actuator), so
// that lower packages can exchange them without importing each other.
//
// The types are plain data: no methods that do IO, no locks. Each package
// that produces one documents who owns its slices; by default the receiver
// of a value must not keep its slices past the call unless it copies them.
package efferent
