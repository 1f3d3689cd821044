#define CL_TARGET_OPENCL_VERSION 300
#include <CL/cl.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(int argc,char**argv){int N=atoi(argv[1]),K=atoi(argv[2]);const char*opt=argc>3?argv[3]:"";
FILE*f=fopen("q8x.cl","rb");static char src[1<<20];size_t n=fread(src,1,sizeof src-1,f);src[n]=0;
cl_platform_id p[4];cl_uint np;clGetPlatformIDs(4,p,&np);cl_device_id d;clGetDeviceIDs(p[0],CL_DEVICE_TYPE_ALL,1,&d,NULL);
cl_context c=clCreateContext(NULL,1,&d,NULL,NULL,NULL);const char*s=src;cl_program pr=clCreateProgramWithSource(c,1,&s,NULL,NULL);
cl_int e=clBuildProgram(pr,1,&d,opt,NULL,NULL);if(e){static char log[1<<16];clGetProgramBuildInfo(pr,d,CL_PROGRAM_BUILD_LOG,sizeof log,log,NULL);printf("%s\n",log);return 1;}
cl_command_queue q=clCreateCommandQueueWithProperties(c,d,NULL,NULL);
float*A=malloc(4*K);signed char*B=malloc((size_t)N*K);float*S=malloc(4*N);float*C=malloc(4*N);double*R=malloc(8*N);
srand(1);for(int k=0;k<K;k++)A[k]=(rand()/(float)RAND_MAX-0.5f)*4;for(size_t i=0;i<(size_t)N*K;i++)B[i]=rand()%255-127;for(int i=0;i<N;i++)S[i]=0.01f;
for(int nn=0;nn<N;nn++){double acc=0;for(int k=0;k<K;k++){size_t idx=(size_t)(nn/4)*4*K+(k/16)*64+(nn%4)*16+k%16;acc+=(double)A[k]*B[idx];}R[nn]=acc*S[nn];}
cl_mem dA=clCreateBuffer(c,CL_MEM_COPY_HOST_PTR,4*K,A,0),dB=clCreateBuffer(c,CL_MEM_COPY_HOST_PTR,(size_t)N*K,B,0),dS=clCreateBuffer(c,CL_MEM_COPY_HOST_PTR,4*N,S,0),dC=clCreateBuffer(c,0,4*N,0,0);
const char*names[]={"q8x","q8f"};
for(int r=0;r<3;r++)for(int kk=0;kk<2;kk++){cl_kernel kr=clCreateKernel(pr,names[kk],&e);clSetKernelArg(kr,0,8,&dA);clSetKernelArg(kr,1,8,&dB);clSetKernelArg(kr,2,8,&dS);clSetKernelArg(kr,3,8,&dC);clSetKernelArg(kr,4,4,&N);clSetKernelArg(kr,5,4,&K);
size_t ls=16,gs=((N/4+15)/16)*16;int calls=N>10000?10:100;
clEnqueueNDRangeKernel(q,kr,1,NULL,&gs,&ls,0,0,0);clFinish(q);double t0=now();for(int i=0;i<calls;i++)clEnqueueNDRangeKernel(q,kr,1,NULL,&gs,&ls,0,0,0);clFinish(q);double t=(now()-t0)/calls;
clEnqueueReadBuffer(q,dC,1,0,4*N,C,0,0,0);double me=0,mr=0;for(int i=0;i<N;i++){me=fmax(me,fabs(C[i]-R[i]));mr=fmax(mr,fabs(R[i]));}
printf("%s N=%d K=%d %.1f us  %.2f GB/s  rel err %.2e\n",names[kk],N,K,t*1e6,(double)N*K/t*1e-9,me/mr);clReleaseKernel(kr);}
return 0;}
