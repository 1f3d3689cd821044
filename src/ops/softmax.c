/* clf_softmax: being written (issue 3). */
typedef int clf__placeholder_softmax;
