/* elementwise kernels: being written (issue 3). */
