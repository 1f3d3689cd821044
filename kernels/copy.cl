/* copy kernels: being written (issue 3). */
