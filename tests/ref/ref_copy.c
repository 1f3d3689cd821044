/* float64 reference for copy: being written. */
typedef int clft__placeholder_copy;
