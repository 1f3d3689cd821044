/* embed kernels: being written (issue 3). */
