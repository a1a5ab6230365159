/**
 * The version diff's last section: how the runs that produced the two versions differ in config
 * and summary (the usual answer to "why did the model change?").
 */
import { renderRunDelta } from '../../core/runs/runTables.js';
import type { ExtensionServices, VersionTarget } from '../services.js';

export async function producerDeltaText(services: ExtensionServices, left: VersionTarget, right: VersionTarget): Promise<string> {
  const c = await services.connection.require();
  const [a, b] = await Promise.all([c.http.version(left.entity, left.project, left.name, left.version), c.http.version(right.entity, right.project, right.name, right.version)]);
  const head = '\n\nProducer runs\n=============\n';
  if (!a.producerRun || !b.producerRun) {
    const direct = [a, b].filter((v) => !v.producerRun).map((v) => `${v.name}:${v.version}`);
    return `${head}${direct.join(' and ')} ${direct.length === 1 ? 'was' : 'were'} logged directly, not by a run: no config or summary to compare.\n`;
  }
  if (a.producerRun.id === b.producerRun.id) return `${head}Both versions were logged by run ${a.producerRun.name} (${a.producerRun.id}).\n`;
  const [ra, rb] = await Promise.all([c.http.getRun(a.entity, a.project, a.producerRun.id), c.http.getRun(b.entity, b.project, b.producerRun.id)]);
  const delta = renderRunDelta({ label: ra.name, config: ra.config, summary: ra.summary }, { label: rb.name, config: rb.config, summary: rb.summary });
  return `${head}${a.name}:${a.version} ← ${ra.name} (${ra.jobType ?? 'no job type'}, ${ra.id})\n${b.name}:${b.version} ← ${rb.name} (${rb.jobType ?? 'no job type'}, ${rb.id})\n\n${delta}\n`;
}
