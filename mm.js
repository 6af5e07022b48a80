const tf=require('@tensorflow/tfjs'); require('@tensorflow/tfjs-backend-wasm');
(async()=>{ await tf.setBackend('wasm');
function time(name, f, flops){ f().dispose(); const t=Date.now(); const n=3; for(let i=0;i<n;i++){const r=f(); r.dataSync(); r.dispose();} const ms=(Date.now()-t)/n; console.log(name.padEnd(50), ms.toFixed(1),'ms', (flops/ms/1e6).toFixed(1),'GFLOP/s'); }
const K=200704;
const a=tf.randomNormal([32,K]), b=tf.randomNormal([K,144]);
time('[32,K]x[K,144]', ()=>tf.matMul(a,b), 2*32*K*144);
const bt=tf.randomNormal([144,K]), at=tf.randomNormal([K,32]);
time('[144,K]x[K,32]', ()=>tf.matMul(bt,at), 2*32*K*144);
for (const c of [16, 64, 196, 784]) {
  const a3=tf.reshape(a,[32,c,K/c]).transpose([1,0,2]), b3=tf.reshape(b,[c,K/c,144]);
  time(`batched chunks ${c}: [c,32,K/c]x[c,K/c,144] + sum`, ()=>tf.tidy(()=>tf.sum(tf.matMul(a3,b3),0)), 2*32*K*144);
}
const d1=tf.randomNormal([256,1024]), d2=tf.randomNormal([256,1024]);
time('[256,1024]^T x [256,1024] (transposeA)', ()=>tf.matMul(d1,d2,true,false), 2*1024*1024*256);
time('transpose + matmul', ()=>tf.tidy(()=>tf.matMul(tf.transpose(d1),d2)), 2*1024*1024*256);
const w=tf.randomNormal([1024,1024]);
time('[256,1024]x[1024,1024]^T (transposeB)', ()=>tf.matMul(d1,w,false,true), 2*1024*1024*256);
time('[256,1024]x[1024,1024]', ()=>tf.matMul(d1,w), 2*1024*1024*256);
time('transpose [K,144]', ()=>tf.transpose(b), 1);
})();
