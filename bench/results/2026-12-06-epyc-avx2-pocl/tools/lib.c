#define CL_TARGET_OPENCL_VERSION 300
#include <CL/cl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static char*rd(const char*p){FILE*f=fopen(p,"rb");char*s=malloc(1<<21);size_t n=fread(s,1,(1<<21)-1,f);s[n]=0;fclose(f);return s;}
int main(int argc,char**argv){int N=atoi(argv[1]),K=atoi(argv[2]);const char*opt=argv[3];int ly=argc>4?atoi(argv[4]):8;int gn=argc>5?atoi(argv[5]):4;
char*s1=rd("kernels/common.cl"),*s2=rd("kernels/gemm.cl"),*s3=rd("q8x.cl");
cl_platform_id p[4];cl_uint np;clGetPlatformIDs(4,p,&np);cl_device_id d;clGetDeviceIDs(p[0],CL_DEVICE_TYPE_ALL,1,&d,NULL);
cl_context c=clCreateContext(NULL,1,&d,NULL,NULL,NULL);const char*srcs[2]={s1,s2};cl_int e;cl_program pr=clCreateProgramWithSource(c,2,srcs,NULL,&e);
e=clBuildProgram(pr,1,&d,opt,NULL,NULL);if(e){static char log[1<<16];clGetProgramBuildInfo(pr,d,CL_PROGRAM_BUILD_LOG,sizeof log,log,NULL);printf("%s\n",log);return 1;}
cl_program p2=clCreateProgramWithSource(c,1,(const char**)&s3,NULL,&e);clBuildProgram(p2,1,&d,"-DPF=2048",NULL,NULL);
cl_command_queue q=clCreateCommandQueueWithProperties(c,d,NULL,NULL);
float*A=malloc(4*K);signed char*B=malloc((size_t)N*K);float*S=malloc(4*N);float*C=malloc(4*N);
srand(1);for(int k=0;k<K;k++)A[k]=(rand()/(float)RAND_MAX-0.5f)*4;for(size_t i=0;i<(size_t)N*K;i++)B[i]=rand()%255-127;for(int i=0;i<N;i++)S[i]=0.01f;
cl_mem dA=clCreateBuffer(c,CL_MEM_COPY_HOST_PTR,4*K,A,0),dB=clCreateBuffer(c,CL_MEM_COPY_HOST_PTR,(size_t)N*K,B,0),dS=clCreateBuffer(c,CL_MEM_COPY_HOST_PTR,4*N,S,0),dC=clCreateBuffer(c,0,4*N,0,0);
cl_kernel kl=clCreateKernel(pr,"clf_gemv",&e);int M=1;float al=1,be=0;cl_ulong z=0;int zero=0;
int a=0;clSetKernelArg(kl,a++,4,&M);clSetKernelArg(kl,a++,4,&N);clSetKernelArg(kl,a++,4,&K);clSetKernelArg(kl,a++,4,&al);clSetKernelArg(kl,a++,4,&be);
clSetKernelArg(kl,a++,8,&dA);clSetKernelArg(kl,a++,8,&z);clSetKernelArg(kl,a++,4,&K);clSetKernelArg(kl,a++,8,&z);
clSetKernelArg(kl,a++,8,&dB);clSetKernelArg(kl,a++,8,&z);clSetKernelArg(kl,a++,4,&K);clSetKernelArg(kl,a++,8,&z);
clSetKernelArg(kl,a++,8,&dC);clSetKernelArg(kl,a++,8,&z);clSetKernelArg(kl,a++,4,&N);clSetKernelArg(kl,a++,8,&z);
clSetKernelArg(kl,a++,8,&dS);clSetKernelArg(kl,a++,8,&z);clSetKernelArg(kl,a++,4,&zero);clSetKernelArg(kl,a++,4,&zero);clSetKernelArg(kl,a++,8,&dS);clSetKernelArg(kl,a++,8,&z);
cl_kernel kx[2];const char*nm[2]={"q8x","q8f"};for(int i=0;i<2;i++){kx[i]=clCreateKernel(p2,nm[i],&e);clSetKernelArg(kx[i],0,8,&dA);clSetKernelArg(kx[i],1,8,&dB);clSetKernelArg(kx[i],2,8,&dS);clSetKernelArg(kx[i],3,8,&dC);clSetKernelArg(kx[i],4,4,&N);clSetKernelArg(kx[i],5,4,&K);}
size_t cols=(N+gn-1)/gn; size_t gl[3]={1,(cols+ly-1)/ly*ly,1},lo[3]={1,ly,1};size_t gx=((N/4+15)/16)*16,lx=16;
int calls=N>10000?10:100;
for(int r=0;r<3;r++){for(int w=0;w<3;w++){double t0=now();for(int i=0;i<calls;i++){if(w==0)clEnqueueNDRangeKernel(q,kl,3,NULL,gl,lo,0,0,0);else clEnqueueNDRangeKernel(q,kx[w-1],1,NULL,&gx,&lx,0,0,0);}clFinish(q);double t=(now()-t0)/calls;printf("%s %.1f us  ",w?nm[w-1]:"lib",t*1e6);}printf("\n");}
return 0;}
