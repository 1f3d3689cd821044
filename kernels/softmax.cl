/* softmax kernels: being written (issue 3). */
