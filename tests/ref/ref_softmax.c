/* float64 reference for softmax: being written. */
typedef int clft__placeholder_softmax;
