import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from './server-helpers.js';

/** W&B's Registry through the HTTP API: registries are projects of links to logged versions. */
describe('server: registries and links', function () {
  this.timeout(60_000);
  let s: TestServer;
  let e: string;
  const links = (registry: string, coll: string) => `/api/v1/projects/${e}/wandb-registry-${registry}/artifacts/${coll}/links`;
  const registry = (name: string) => `/api/v1/projects/${e}/wandb-registry-${name}/registry`;

  before(async () => {
    s = await startTestServer();
    e = await s.api.entity();
  });
  after(async () => s?.stop());

  it('links a logged version: own vN and aliases, the source files, producer and consumers', async () => {
    const run = await s.api.post(`/api/v1/projects/${e}/train/runs`, { jobType: 'train' });
    const logged = await s.api.logVersion('train', 'net', 'model', { 'w.bin': 'weights-1' }, { runId: run.body.id });
    assert.equal(logged.status, 201);
    const source = { entity: e, project: 'train', name: 'net', version: 'v0' };
    const first = await s.api.post(links('model', 'classifier'), { source, aliases: ['staging'] });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const link = first.body.version;
    assert.equal(link.project, 'wandb-registry-model');
    assert.equal(link.name, 'classifier');
    assert.equal(link.version, 'v0');
    assert.deepEqual(link.aliases, ['latest', 'staging']);
    assert.deepEqual(link.linkedFrom, source);
    assert.equal(link.digest, logged.body.version.digest);
    assert.equal(link.producerRun.id, run.body.id, 'the producer is the source version\'s run');
    // The source keeps its own aliases: the link's are separate.
    assert.deepEqual((await s.api.get(`/api/v1/projects/${e}/train/artifacts/net/versions/v0`)).body.aliases, ['latest']);
    // The manifest is the source's, reachable under the link path.
    const manifest = await s.api.get(`/api/v1/projects/${e}/wandb-registry-model/artifacts/classifier/versions/staging/manifest`);
    assert.deepEqual(Object.keys(manifest.body.entries), ['w.bin']);
    // Linking the same source again returns its link with the new aliases.
    const again = await s.api.post(links('model', 'classifier'), { source: { ...source, version: 'latest' }, aliases: ['prod'] });
    assert.equal(again.status, 200);
    assert.equal(again.body.created, false);
    assert.deepEqual(again.body.version.aliases, ['latest', 'prod', 'staging']);
    // A run using the link uses the source (lineage is the source's).
    const user = await s.api.post(`/api/v1/projects/${e}/serve/runs`, { jobType: 'serve' });
    const used = await s.api.post(`/api/v1/projects/${e}/serve/runs/${user.body.id}/inputs`, { ref: `${e}/wandb-registry-model/classifier:prod` });
    assert.equal(used.status, 200, JSON.stringify(used.body));
    const consumers = await s.api.get(`/api/v1/projects/${e}/train/artifacts/net/versions/v0/consumers`);
    assert.deepEqual(consumers.body.items.map((r: { id: string }) => r.id), [user.body.id]);
    const linkConsumers = await s.api.get(`/api/v1/projects/${e}/wandb-registry-model/artifacts/classifier/versions/v0/consumers`);
    assert.deepEqual(linkConsumers.body.items.map((r: { id: string }) => r.id), [user.body.id]);
    // A second source gets v1 and takes latest.
    await s.api.logVersion('train', 'net', 'model', { 'w.bin': 'weights-2' });
    const second = await s.api.post(links('model', 'classifier'), { source: { ...source, version: 'v1' } });
    assert.equal(second.body.version.version, 'v1');
    assert.deepEqual(second.body.version.aliases, ['latest']);
  });

  it('refuses logging into a registry, linking into a registry that does not exist, and a missing source', async () => {
    await s.api.post(links('model', 'x'), { source: { entity: e, project: 'train', name: 'net', version: 'v0' } });
    const log = await s.api.logVersion('wandb-registry-model', 'direct', 'model', { 'a.txt': 'a' });
    assert.equal(log.status, 400);
    assert.match(log.body.error.message, /is a registry.*link/);
    const nowhere = await s.api.post(links('nope', 'x'), { source: { entity: e, project: 'train', name: 'net', version: 'v0' } });
    assert.equal(nowhere.status, 404);
    assert.match(nowhere.body.error.message, /no registry "nope".*create_registry/);
    const plain = await s.api.post(`/api/v1/projects/${e}/train/artifacts/x/links`, { source: { entity: e, project: 'train', name: 'net', version: 'v0' } });
    assert.equal(plain.status, 404);
    assert.match(plain.body.error.message, /is not a registry/);
    const missing = await s.api.post(links('model', 'x'), { source: { entity: e, project: 'train', name: 'net', version: 'v9' } });
    assert.equal(missing.status, 404);
    assert.match(missing.body.error.message, /no version v9/);
  });

  it('creates, reads, lists, updates and deletes a registry; accepted types are enforced and only added', async () => {
    const made = await s.api.req('PUT', registry('evals'), { visibility: 'restricted', description: 'eval sets', artifactTypes: ['dataset'], tags: ['q3'] });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.equal(made.body.project, 'wandb-registry-evals');
    assert.equal(made.body.allowAllArtifactTypes, false);
    assert.deepEqual(made.body.artifactTypes, ['dataset']);
    assert.equal((await s.api.req('PUT', registry('evals'), { visibility: 'organization' })).status, 409);
    const wrongType = await s.api.post(links('evals', 'm'), { source: { entity: e, project: 'train', name: 'net', version: 'v0' } });
    assert.equal(wrongType.status, 409);
    assert.match(wrongType.body.error.message, /accepts the artifact types dataset, not "model"/);
    const changed = await s.api.patch(registry('evals'), { addArtifactTypes: ['model'], description: 'evals and models', tags: ['q4'] });
    assert.deepEqual(changed.body.artifactTypes, ['dataset', 'model']);
    assert.equal(changed.body.description, 'evals and models');
    assert.deepEqual(changed.body.tags, ['q4']);
    assert.equal((await s.api.post(links('evals', 'm'), { source: { entity: e, project: 'train', name: 'net', version: 'v0' } })).status, 201);
    const listed = await s.api.get('/api/v1/registries');
    assert.ok(listed.body.items.some((r: { name: string }) => r.name === 'evals'));
    assert.ok(listed.body.items.some((r: { name: string }) => r.name === 'model'), 'the built-in model registry exists after its first link');
    const bad = await s.api.patch(registry('model'), { addArtifactTypes: ['model'] });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /allows all artifact types/);
    const gone = await s.api.del(registry('evals'));
    assert.equal(gone.status, 200);
    assert.equal((await s.api.get(registry('evals'))).status, 404);
    assert.equal((await s.api.get(`/api/v1/projects/${e}/wandb-registry-evals/artifacts/m/versions/latest`)).status, 404);
    // The linked source stays.
    assert.equal((await s.api.get(`/api/v1/projects/${e}/train/artifacts/net/versions/v0`)).status, 200);
    const prefixed = await s.api.req('PUT', registry('wandb-registry-x'), { visibility: 'organization' });
    assert.equal(prefixed.status, 400);
    assert.match(prefixed.body.error.message, /without the "wandb-registry-" prefix/);
    const plain = await s.api.req('PUT', `/api/v1/projects/${e}/train/registry`, { visibility: 'organization' });
    assert.equal(plain.status, 400);
    assert.match(plain.body.error.message, /registries are projects named wandb-registry-NAME/);
  });
});
