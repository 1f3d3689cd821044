/* clf_embed: being written (issue 3). */
typedef int clf__placeholder_embed;
