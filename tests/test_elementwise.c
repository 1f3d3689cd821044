/* elementwise tests: being written. */
#include <criterion/criterion.h>
