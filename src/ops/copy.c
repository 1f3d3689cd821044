/* clf_copy: being written (issue 3). */
typedef int clf__placeholder_copy;
