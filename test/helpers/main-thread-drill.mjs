// Preloaded (--import) into a `yoloscale scheduler` process by
// test/scheduler/main-crash.test.ts: once the admin API answers, the main
// thread throws an error nothing catches (YS_DRILL=exception) or leaves a
// promise rejected with nobody listening (YS_DRILL=rejection).
import { isMainThread } from 'node:worker_threads';

if (isMainThread && process.env.YS_DRILL) {
  const url = `http://127.0.0.1:${process.env.YOLOSCALE_ADMIN_PORT}/healthz`;
  const poll = setInterval(() => {
    fetch(url).then(
      (r) => {
        if (r.status !== 200) return;
        clearInterval(poll);
        setTimeout(() => {
          if (process.env.YS_DRILL === 'rejection') void Promise.reject(new Error('main-thread drill (rejection)'));
          else throw new Error('main-thread drill (exception)');
        }, 50);
      },
      () => {},
    );
  }, 100);
}
