// --pre-js of the threaded build: the number of Web Workers (pthreads) started with the module, chosen
// by the host as createTabllmModule({pthreadPoolSize: N}). A session with T threads takes T - 1 of them;
// threads cannot be added later without returning to the event loop, so the pool must be large enough.
var tabllmPthreadPoolSize = Math.max(1, Module['pthreadPoolSize'] || 4);
