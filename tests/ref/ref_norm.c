/* float64 reference for norm: being written. */
typedef int clft__placeholder_norm;
