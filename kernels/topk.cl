/* topk kernels: being written (issue 3). */
