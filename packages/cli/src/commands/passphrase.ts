import { createInterface } from 'node:readline';

/**
 * Key store passphrase: from the environment variable (default YAK_PASSPHRASE), else prompted
 * on the terminal without echo. Never printed.
 */
export async function getPassphrase(envVar = 'YAK_PASSPHRASE', prompt = 'key store passphrase: '): Promise<string> {
  const fromEnv = process.env[envVar];
  if (fromEnv) return fromEnv;
  if (!process.stdin.isTTY) throw new Error(`no passphrase: set ${envVar} or run in a terminal`);
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const out = rl as unknown as { _writeToOutput: (s: string) => void };
    let prompted = false;
    out._writeToOutput = (s: string) => {
      if (!prompted) {
        process.stderr.write(s);
        prompted = true;
      }
    };
    rl.question(prompt, (answer) => {
      rl.close();
      process.stderr.write('\n');
      if (!answer) reject(new Error('empty passphrase'));
      else resolve(answer);
    });
  });
}
