#include <clformer/clformer.h>
#include <stdio.h>
#include <stdlib.h>
#define CK(x) do{clf_status s_=(x); if(s_){fprintf(stderr,"%s failed %d\n",#x,s_);exit(1);}}while(0)
int main(int argc,char**argv){
  clf_context_params cp=clf_context_params_default(); cp.device="0:0";
  clf_context*ctx; CK(clf_context_create(&cp,&ctx));
  clf_model_config cfg; CK(clf_model_config_preset("gpt2-small",&cfg));
  clf_model_params mp=clf_model_params_default(); mp.max_batch=1; mp.max_target_len=atoi(argv[1]); mp.weight_dtype=CLF_Q8;
  clf_model*m; CK(clf_model_create_random(ctx,&cfg,&mp,1234,&m));
  static int32_t ids[4096],out_ids[4096]; int S=atoi(argv[2]); for(int i=0;i<S;i++)ids[i]=1000+37*(i%97);
  clf_generate_params gp=clf_generate_params_default(); gp.max_new_tokens=4; gp.ignore_eos=true;
  clf_generate_output out={.ids=out_ids}; CK(clf_model_generate(m,ids,NULL,1,S,&gp,&out));
  size_t a,act,lb; clf_model_memory(m,1,&a,&act,&lb); long nb; size_t by,pk; clf_context_memory(ctx,&nb,&by,&pk);
  printf("max_tgt %s prompt %d: decoder arena %.1f MB, context peak %.1f MB, ids %d %d %d %d\n",argv[1],S,a/1e6,pk/1e6,out_ids[0],out_ids[1],out_ids[2],out_ids[3]);
  return 0;}
