const tf=require('@tensorflow/tfjs'); const a=require('advanced-neural-models');
(async()=>{ await a.initBackend({backend:'wasm', quiet:true});
const m=a.fashionCnn(); m.compile({optimizer:tf.train.adam(1e-3),loss:'categoricalCrossentropy'});
const B=+process.argv[2]; const x=tf.randomUniform([B,28,28,1]); const y=tf.oneHot(tf.randomUniform([B],0,10,'int32'),10);
await m.trainOnBatch(x,y);
const prof = await tf.profile(async()=>{ await m.trainOnBatch(x,y); });
const agg={};
for (const k of prof.kernels){ const t=await k.kernelTimeMs; const key=k.name+' '+JSON.stringify(k.inputShapes); agg[key]=(agg[key]||0)+(typeof t==='number'?t:0);}
const rows=Object.entries(agg).sort((a,b)=>b[1]-a[1]).slice(0,22);
console.log('peakBytes', (prof.peakBytes/1e6).toFixed(0),'MB');
for (const [k,v] of rows) console.log(v.toFixed(0).padStart(6), k.slice(0,140));
})();
