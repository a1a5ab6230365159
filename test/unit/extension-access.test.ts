import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { ArtifactVersion, Viewer } from '../../src/core/api.js';
import { roleOn } from '../../src/core/roles.js';
import { describeRoles, forbiddenReason, roleFor, signInMessage, statusText, versionContextValue } from '../../src/extension/logic/access.js';
import { versionMarkdown } from '../../src/extension/logic/format.js';

const team: Viewer = {
  entity: 'bob',
  defaultProject: 'uncategorized',
  user: 'bob',
  mode: 'team',
  siteAdmin: false,
  entities: [
    { entity: 'bob', kind: 'user', project: null, role: 'admin' },
    { entity: 'vision', kind: 'team', project: null, role: 'viewer' },
    { entity: 'vision', kind: 'team', project: 'mnist', role: 'editor' },
  ],
};

/** The `viewItem =~ /…/` regexes of a command's tree menu entries in package.json. */
function menuRegexes(command: string): RegExp[] {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
  const entries = pkg.contributes.menus['view/item/context'].filter((m: { command: string }) => m.command === command);
  assert.ok(entries.length, command);
  return entries.flatMap((m: { when: string }) => [...m.when.matchAll(/viewItem =~ \/(.+?)\/(?= |$)/g)].map((x) => new RegExp(x[1])));
}
const shows = (command: string, contextValue: string) => menuRegexes(command).some((r) => r.test(contextValue));

describe('extension logic: roles and what the views offer', () => {
  it('takes the highest of entity-wide and project grants; nothing on other entities; site admins everywhere', () => {
    assert.equal(roleFor(team, 'vision', 'mnist'), 'editor');
    assert.equal(roleFor(team, 'vision', 'cifar'), 'viewer');
    assert.equal(roleFor(team, 'bob', 'anything'), 'admin');
    assert.equal(roleFor(team, 'audio', 'x'), null);
    assert.equal(roleFor({ ...team, siteAdmin: true }, 'audio', 'x'), 'admin');
    // An older server without grants: hide nothing, the server decides.
    assert.equal(roleFor({ entity: 'me', defaultProject: 'uncategorized' }, 'x', 'y'), 'admin');
    assert.equal(roleOn([{ entity: 'vision', project: 'mnist', role: 'admin' }], false, 'vision', null), null, 'a project grant is not a grant on the whole entity');
  });

  it('a restricted registry: entity-wide roles below admin do not reach it, registry roles and entity admins do (as the server rules)', () => {
    const registry = 'wandb-registry-secret';
    const viewer: Viewer = {
      ...team,
      entities: [...team.entities!, { entity: 'vision', kind: 'team', project: 'wandb-registry-shared', role: 'editor' }],
      restricted: [`vision/${registry}`, 'vision/wandb-registry-shared'],
    };
    assert.equal(roleFor(viewer, 'vision', registry), null, 'entity-wide viewer: not a member, so nothing is offered');
    assert.equal(roleFor(viewer, 'vision', 'wandb-registry-shared'), 'editor', 'a member by their own registry role');
    assert.equal(roleFor(viewer, 'vision', 'cifar'), 'viewer', 'ordinary projects keep the entity-wide role');
    const admin: Viewer = { ...viewer, entities: [{ entity: 'vision', kind: 'team', project: null, role: 'admin' }] };
    assert.equal(roleFor(admin, 'vision', registry), 'admin');
  });

  it('a viewer gets no Delete and no edits in the tree menus; an editor edits; an admin deletes', () => {
    const plain: Pick<ArtifactVersion, 'aliases'> = { aliases: ['latest'] };
    const aliased: Pick<ArtifactVersion, 'aliases'> = { aliases: ['latest', 'best'] };
    for (const v of [plain, aliased]) {
      const asViewer = versionContextValue(v, 'viewer');
      const asEditor = versionContextValue(v, 'editor');
      const asAdmin = versionContextValue(v, 'admin');
      assert.equal(shows('amphora.version.delete', asViewer), false);
      assert.equal(shows('amphora.version.delete', asEditor), false);
      assert.equal(shows('amphora.version.delete', asAdmin), true);
      for (const edit of ['amphora.version.addAlias', 'amphora.version.removeAlias', 'amphora.version.editDescription', 'amphora.version.editMetadata']) {
        assert.equal(shows(edit, asViewer), false, edit);
        assert.equal(shows(edit, asEditor), true, edit);
        assert.equal(shows(edit, asAdmin), true, edit);
      }
      // Reading stays offered to everyone.
      assert.equal(shows('amphora.version.download', asViewer), true);
      assert.equal(shows('amphora.version.copyReference', asViewer), true);
    }
    assert.equal(versionContextValue(aliased, 'admin'), 'version.aliased.canEdit.canDelete');
  });

  it('explains a refusal with both roles, and says nothing when allowed', () => {
    assert.match(forbiddenReason('viewer', 'admin', 'Deleting a version', 'vision/mnist')!, /Deleting a version needs the admin role on vision\/mnist; yours is viewer \(read and download\)/);
    assert.equal(forbiddenReason('admin', 'admin', 'Deleting a version', 'vision/mnist'), undefined);
  });

  it('Sign In and the status bar name the user, their roles and the server', () => {
    assert.equal(signInMessage('https://amphora.example.com', team), 'Signed in to https://amphora.example.com as bob (admin of bob, viewer of vision, editor of vision/mnist).');
    assert.equal(describeRoles({ ...team, siteAdmin: true }), 'site admin');
    assert.equal(statusText('remote', 'https://amphora.example.com:8443', team), 'Amphora: bob@amphora.example.com:8443');
    assert.equal(statusText('local', 'http://127.0.0.1:7411', { entity: 'me', defaultProject: 'x', user: 'me' }), 'Amphora: local · me');
  });

  it('version tooltips say who logged the version and who changed it last', () => {
    const v: ArtifactVersion = {
      id: '1', entity: 'vision', project: 'mnist', name: 'raw', type: 'dataset', version: 'v0', index: 0, digest: 'a'.repeat(64), size: 1, fileCount: 1,
      aliases: ['latest'], description: null, metadata: {}, state: 'committed', createdAt: '2026-01-10T10:00:00Z', updatedAt: '2026-01-10T10:00:00Z',
      producerRun: null, createdBy: 'alice', updatedBy: 'bob',
    };
    const md = versionMarkdown(v, Date.parse('2026-01-10T12:00:00Z'));
    // Dates and names are Markdown-escaped (safeText): `-` and `:` carry backslashes.
    assert.match(md, /- created: 2026\\-01\\-10 10\\:00\\:00 UTC \(2 h ago\) by alice\n/);
    assert.match(md, /- last changed by bob/);
    assert.doesNotMatch(versionMarkdown({ ...v, createdBy: null, updatedBy: null }), / by /);
  });
});
