import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintTransformer } from '../bigint-transformer';

export type WalletStatus = 'active' | 'frozen' | 'closed';
export type WalletKind = 'customer' | 'system';

@Entity({ name: 'wallets' })
export class WalletEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('text', { name: 'owner_id' }) ownerId!: string;
  @Column('text') kind!: WalletKind;
  @Column('char', { length: 3 }) currency!: string;
  @Column('text') status!: WalletStatus;
  @Column('bigint', { transformer: bigintTransformer }) balance!: bigint;
  @Column('bigint', { transformer: bigintTransformer }) held!: bigint;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
  @Column('timestamptz', { name: 'updated_at' }) updatedAt!: Date;
}
