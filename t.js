const tf=require('@tensorflow/tfjs'); const {initBackend}=require('advanced-neural-models');
(async()=>{ await initBackend({backend: process.argv[2]});
function mnist(){const m=tf.sequential();
m.add(tf.layers.dropout({rate:0.25,inputShape:[28,28,1]}));
m.add(tf.layers.conv2d({filters:16,kernelSize:3,padding:'same',activation:'relu'}));m.add(tf.layers.dropout({rate:0.5}));
m.add(tf.layers.conv2d({filters:32,kernelSize:3,padding:'same',activation:'relu'}));m.add(tf.layers.dropout({rate:0.5}));
m.add(tf.layers.averagePooling2d({poolSize:2,padding:'same'}));
m.add(tf.layers.conv2d({filters:64,kernelSize:3,padding:'same',activation:'relu'}));
m.add(tf.layers.averagePooling2d({poolSize:2,padding:'same'}));
m.add(tf.layers.conv2d({filters:64,kernelSize:3,padding:'same',activation:'relu'}));m.add(tf.layers.dropout({rate:0.5}));
m.add(tf.layers.averagePooling2d({poolSize:2,padding:'same'}));m.add(tf.layers.flatten());
m.add(tf.layers.dense({units:1024,activation:'relu'}));m.add(tf.layers.dropout({rate:0.5}));m.add(tf.layers.dense({units:10,activation:'softmax'}));
m.compile({optimizer:tf.train.adam(1e-3),loss:'categoricalCrossentropy',metrics:['accuracy']}); return m;}
const m=mnist(); console.log('params',m.countParams());
const B=+process.argv[3]||256; const x=tf.randomUniform([B,28,28,1]); const y=tf.oneHot(tf.randomUniform([B],0,10,'int32'),10);
for (let i=0;i<4;i++){const t=Date.now(); const h=await m.trainOnBatch(x,y); console.log('step',i,Date.now()-t,'ms', h, tf.memory().numTensors);}
})();
