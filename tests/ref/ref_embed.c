/* float64 reference for embed: being written. */
typedef int clft__placeholder_embed;
