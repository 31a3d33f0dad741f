// Package strictyaml decodes YAML into Go structs and reports every
// unknown key at once, with its line and column.
//
// yaml.v3's KnownFields stops at the first unknown key and gives no
// column; the pipeline config and the data schema both need every problem
// in a file listed together, each naming the field at fault.
package strictyaml
