/* clf_elementwise: being written (issue 3). */
typedef int clf__placeholder_elementwise;
