package dataset_test

import (
	"fmt"
	"strings"

	"github.com/modelgate/modelgate/tools/dataset"
)

func ExampleReadCSV() {
	in := "age,city,member\n34,Paris,true\n,Lyon,false\n51,\"Saint-Denis, 93\",true\n"
	f, err := dataset.ReadCSV(strings.NewReader(in), "people.csv", dataset.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range f.Columns {
		fmt.Printf("%s: %s, %d missing\n", c.Name, c.Type, c.NullCount())
	}
	city, _ := f.Col("city")
	fmt.Println(city.Str[2])
	// Output:
	// age: numeric, 1 missing
	// city: categorical, 0 missing
	// member: boolean, 0 missing
	// Saint-Denis, 93
}

func ExampleReadCSV_error() {
	_, err := dataset.ReadCSV(strings.NewReader("a,b\n1,2\n3\n"), "data.csv", dataset.Options{})
	fmt.Println(err)
	// Output:
	// data.csv: row 2: wrong number of fields: 1 fields, the header has 2 (check the delimiter and quoting)
}
