import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./broker-child.js', import.meta.url));

/** A broker running in a child process (see broker-child.ts). */
export interface ChildBroker {
  child: ChildProcess;
  bootstrap: string;
  /** Resolves with the exit code or signal once the process is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  memory(): Promise<NodeJS.MemoryUsage>;
}

export function spawnBroker(
  dataDir: string,
  config: Record<string, string> = {},
  execArgv: string[] = [],
): Promise<ChildBroker> {
  const child = fork(CHILD, [dataDir, JSON.stringify(config)], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    execArgv,
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    let ready = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`broker child did not start within 60 s: ${stderr}`));
    }, 60_000);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      if (!ready) reject(new Error(`broker child exited (${code ?? signal}) before it was ready: ${stderr}`));
    });
    child.on('message', function onReady(m: { type: string; port?: number; host?: string }) {
      if (m.type !== 'ready') return;
      ready = true;
      child.off('message', onReady);
      clearTimeout(timer);
      resolve({
        child,
        bootstrap: `${m.host}:${m.port}`,
        exited,
        stderr: () => stderr,
        memory: () =>
          new Promise((res) => {
            const onMemory = (r: { type: string; usage?: NodeJS.MemoryUsage }) => {
              if (r.type !== 'memory') return;
              child.off('message', onMemory);
              res(r.usage!);
            };
            child.on('message', onMemory);
            child.send({ type: 'memory' });
          }),
      });
    });
  });
}
