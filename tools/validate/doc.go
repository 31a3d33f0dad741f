// Package validate infers a schema from reference data (as TFDV's
// infer_schema does), writes it as YAML a person can edit, and checks a
// dataset against it.
//
// Rules, each reported as a Finding with the column, the rule, the
// expected and observed values and up to five example rows:
//
//	missing_column     a required column is absent (error)
//	unexpected_column  a column the schema does not know (warning)
//	type               the column's type differs (error)
//	completeness       null fraction above max_null_fraction (error)
//	range              values outside [min, max]: error when more than
//	                   range_tolerance of the values are, warning otherwise
//	domain             categories outside values: error when the in-domain
//	                   mass falls below min_domain_mass, warning otherwise
//	unique             duplicated values in a unique column (error)
//	row_count          rows outside rows.min/rows.max (error)
//	label              the label is missing in the training environment (error)
//	class_balance      a class's share below label.min_class_share, or a
//	                   known class absent (error)
//
// Environments follow TFDV: each column may list the environments it
// appears in; by default the label is only expected in "training", so
// serving data without it is valid.
package validate
