package model_test

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/modelgate/modelgate/tools/model"
)

// A two-leaf regression stump: x < 0.5 scores 1, otherwise (or when x is
// missing, default_left 0) 2, on top of base_score 10.
const stump = `{"learner":{
 "feature_names":["x"],
 "learner_model_param":{"base_score":"1E1","num_class":"0","num_feature":"1"},
 "objective":{"name":"reg:squarederror"},
 "gradient_booster":{"name":"gbtree","model":{"tree_info":[0],"trees":[{
   "left_children":[1,-1,-1],"right_children":[2,-1,-1],"split_indices":[0,0,0],
   "split_conditions":[0.5,1,2],"default_left":[0,0,0],"split_type":[0,0,0],
   "tree_param":{"num_nodes":"3"}}]}}}}`

func ExampleLoadXGBoost() {
	m, err := model.LoadXGBoost(strings.NewReader(stump), "stump")
	if err != nil {
		fmt.Println(err)
		return
	}
	b := model.Batch{Features: []string{"x"}, Rows: 3, Values: []float64{0.2, 0.9, math.NaN()}}
	p, err := m.Predict(context.Background(), b)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Info().Kind, p.Values)
	// Output: regression [11 12 12]
}
