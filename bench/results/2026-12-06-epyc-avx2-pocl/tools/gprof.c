#include <clformer/clformer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
#define CK(x) do{clf_status s_=(x); if(s_){fprintf(stderr,"%s failed %d\n",#x,s_);exit(1);}}while(0)
int main(int argc,char**argv){
  const char*dev=argc>1?argv[1]:"0:0"; int wt=argc>2?atoi(argv[2]):0; int tokens=argc>3?atoi(argv[3]):32; int prof=argc>4?atoi(argv[4]):1;
  clf_context_params cp=clf_context_params_default(); cp.device=dev; cp.profiling=prof;
  clf_context*ctx; CK(clf_context_create(&cp,&ctx));
  clf_model_config cfg; CK(clf_model_config_preset(getenv("PRESET")?getenv("PRESET"):"gpt2-small",&cfg));
  clf_model_params mp=clf_model_params_default(); int B=getenv("B")?atoi(getenv("B")):1; int S=getenv("S")?atoi(getenv("S")):16; mp.max_batch=B; mp.max_source_len=S; mp.max_target_len=S+tokens+1;
  clf_dtype dts[]={CLF_F32,CLF_F16,CLF_Q8,CLF_Q4}; mp.weight_dtype=dts[wt];
  clf_model*m; CK(clf_model_create_random(ctx,&cfg,&mp,1234,&m));
  static int32_t ids[8192],out_ids[65536]; for(int i=0;i<B*S;i++)ids[i]=1000+37*(i%97);
  clf_generate_params gp=clf_generate_params_default(); gp.max_new_tokens=tokens; gp.ignore_eos=true;
  static clf_profile_record rec[200000]; size_t n;
  double best=1e9;
  int R=getenv("REPS")?atoi(getenv("REPS")):6; /* generates, the first a warm-up */
  for(int r=0;r<R;r++){clf_generate_output out={.ids=out_ids}; double t0=now(); CK(clf_model_generate(m,ids,NULL,B,S,&gp,&out)); double t=now()-t0; if(r>0&&t<best)best=t; if(prof){CK(clf_context_profile(ctx,rec,200000,&n));}}
  printf("best wall %.1f ms, %.2f ms/token (incl prefill), %.1f tok/s\n",best*1e3,best*1e3/tokens,tokens/best);
  if(!prof)return 0;
  /* aggregate last run */
  const char*names[256];double tt[256];int cnt[256];int nk=0;double tot=0;
  for(size_t i=0;i<n;i++){int k;for(k=0;k<nk;k++)if(!strcmp(names[k],rec[i].kernel))break; if(k==nk){names[nk]=rec[i].kernel;tt[nk]=0;cnt[nk]=0;nk++;} tt[k]+=rec[i].seconds;cnt[k]++;tot+=rec[i].seconds;}
  printf("launches %zu (%.1f per token), device time %.1f ms\n",n,(double)n/tokens,tot*1e3);
  for(int k=0;k<nk;k++)printf("  %-32s %6d  %8.2f ms  %6.1f us/launch\n",names[k],cnt[k],tt[k]*1e3,tt[k]*1e6/cnt[k]);
  if(getenv("SHAPES")){ /* GPT-2's decode GEMVs: the i-th clf_gemv of each step after the first argmax (4 per layer, then the head), medians */
    static double v[5][4096]; int nv[5]={0}; int gi=-1; int seen=0;
    for(size_t i=0;i<n;i++){ if(!strcmp(rec[i].kernel,"argmax_rows_vec")){seen++;gi=0;continue;} if(seen<1)continue;
      if(!strcmp(rec[i].kernel,"clf_gemv")){int c= gi<48? gi%4 : 4; if(nv[c]<4096)v[c][nv[c]++]=rec[i].seconds*1e6; gi++;}}
    const char*nm[5]={"qkv","out","fc","proj","head"};
    for(int c=0;c<5;c++){ for(int a=1;a<nv[c];a++)for(int b=a;b>0&&v[c][b]<v[c][b-1];b--){double x=v[c][b];v[c][b]=v[c][b-1];v[c][b-1]=x;}
      printf("  %s median %.1f us (n %d)\n",nm[c],nv[c]?v[c][nv[c]/2]:0,nv[c]);}
  }
  if(getenv("LAST")){size_t per=n/tokens; for(size_t i=n-per;i<n;i++)printf("    %s %.1f us\n",rec[i].kernel,rec[i].seconds*1e6);}
  if(getenv("FIRST")){double pf=0;for(size_t i=0;i<n;i++){pf+=rec[i].seconds;if(!strcmp(rec[i].kernel,"argmax_rows_vec"))break;}printf("prefill device time %.1f ms\n",pf*1e3);for(size_t i=0;i<n && i<120;i++)if(rec[i].seconds>50e-6)printf("    [%zu] %s %.1f us\n",i,rec[i].kernel,rec[i].seconds*1e6);}
  clf_model_free(m); clf_context_free(ctx); return 0;}
