/* clf_topk: being written (issue 3). */
typedef int clf__placeholder_topk;
