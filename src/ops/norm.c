/* clf_norm: being written (issue 3). */
typedef int clf__placeholder_norm;
