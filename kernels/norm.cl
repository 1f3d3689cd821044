/* norm kernels: being written (issue 3). */
