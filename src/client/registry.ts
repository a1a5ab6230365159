/** W&B's Registry in the SDK: a registry (the project `wandb-registry-NAME`) and its link collections. */
import type { ArtifactCollection, RegistryMember, RegistryRole, Registry as RegistryInfo } from '../core/api.js';
import { AmphoraError } from '../core/errors.js';
import { validateArtifactType } from '../core/names.js';
import { Artifact } from './artifact.js';
import type { Client } from './client.js';
import { paginate } from '../core/paginate.js';

export type RegistryVisibility = RegistryInfo['visibility'];
/** A member to add or remove: a user name, or `{ kind: 'team', name }` for a whole team. */
export type MemberRef = string | { kind: 'user' | 'team'; name: string };

const memberRef = (m: MemberRef) => (typeof m === 'string' ? { kind: 'user' as const, name: m } : { kind: m.kind, name: m.name });

export class Registry {
  description!: string | null;
  visibility!: RegistryVisibility;
  allowAllArtifactTypes!: boolean;
  /** Accepted types: append new ones, then save(); saved types cannot be removed (W&B's rule). */
  artifactTypes!: string[];
  tags!: string[];
  private info!: RegistryInfo;

  /** @internal use Api.createRegistry / Api.registry */
  constructor(
    private readonly client: Client,
    info: RegistryInfo,
  ) {
    this.apply(info);
  }

  private apply(info: RegistryInfo): void {
    this.info = info;
    this.description = info.description;
    this.visibility = info.visibility;
    this.allowAllArtifactTypes = info.allowAllArtifactTypes;
    this.artifactTypes = [...info.artifactTypes];
    this.tags = [...info.tags];
  }

  get name(): string {
    return this.info.name;
  }
  /** `wandb-registry-NAME`: the registry's project, the middle part of its link paths. */
  get fullName(): string {
    return this.info.project;
  }
  get entity(): string {
    return this.info.entity;
  }
  get createdAt(): string {
    return this.info.createdAt;
  }
  get updatedAt(): string {
    return this.info.updatedAt;
  }

  /** The registry's collections, by name (paged through). */
  async collections(): Promise<ArtifactCollection[]> {
    return paginate((q) => this.client.http.collections(this.entity, this.fullName, q));
  }

  /** Every linked version, collection by collection, newest first. */
  async versions(): Promise<Artifact[]> {
    const out: Artifact[] = [];
    for (const c of await this.collections()) {
      const versions = await paginate((q) => this.client.http.versions(this.entity, this.fullName, c.name, q));
      out.push(...versions.map((v) => Artifact.fromVersion(this.client, v)));
    }
    return out;
  }

  async load(): Promise<this> {
    this.apply(await this.client.http.registry(this.entity, this.name));
    return this;
  }

  /** Saves description, visibility, tags and newly appended artifact types. */
  async save(): Promise<this> {
    const removed = this.info.artifactTypes.filter((t) => !this.artifactTypes.includes(t));
    if (removed.length) {
      throw new AmphoraError('invalid_request', `Artifact type(s) ${removed.join(', ')} are saved in registry "${this.name}" and cannot be removed (W&B's rule); only types appended since the last save can.`);
    }
    const added = this.artifactTypes.filter((t) => !this.info.artifactTypes.includes(t)).map(validateArtifactType);
    this.apply(
      await this.client.http.updateRegistry(this.entity, this.name, {
        description: this.description,
        visibility: this.visibility,
        allowAllArtifactTypes: this.allowAllArtifactTypes,
        addArtifactTypes: added,
        tags: [...new Set(this.tags)],
      }),
    );
    return this;
  }

  // ---------------------------------------------------------------- members (W&B's registry roles)
  /** Users and teams with their registry roles (viewer, member, admin); entity-wide roles are not listed. */
  async members(): Promise<RegistryMember[]> {
    return (await this.client.http.registryMembers(this.entity, this.name)).items;
  }
  async userMembers(): Promise<RegistryMember[]> {
    return (await this.members()).filter((m) => m.kind === 'user');
  }
  async teamMembers(): Promise<RegistryMember[]> {
    return (await this.members()).filter((m) => m.kind === 'team');
  }
  /** Adds members as viewers (W&B's default) or with `role`; members already there keep their role. */
  async addMembers(members: MemberRef[], opts: { role?: RegistryRole } = {}): Promise<RegistryMember[]> {
    return (await this.client.http.addRegistryMembers(this.entity, this.name, { members: members.map(memberRef), role: opts.role })).items;
  }
  async updateMember(member: MemberRef, role: RegistryRole): Promise<RegistryMember> {
    const m = memberRef(member);
    return this.client.http.updateRegistryMember(this.entity, this.name, m.kind, m.name, role);
  }
  async removeMembers(members: MemberRef[]): Promise<RegistryMember[]> {
    const out: RegistryMember[] = [];
    for (const m of members.map(memberRef)) out.push(await this.client.http.removeRegistryMember(this.entity, this.name, m.kind, m.name));
    return out;
  }

  /** Deletes the registry and its links (the linked versions stay in their projects). Irreversible. */
  async delete(): Promise<void> {
    await this.client.http.deleteRegistry(this.entity, this.name);
  }
}
