/* float64 reference for topk: being written. */
typedef int clft__placeholder_topk;
