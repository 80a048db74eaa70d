/** Whether a process of this machine with that pid exists (one of another user's counts: EPERM). What names files and locks by their writer's pid asks it. */
export function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
