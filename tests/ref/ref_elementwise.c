/* float64 reference for elementwise: being written. */
typedef int clft__placeholder_elementwise;
