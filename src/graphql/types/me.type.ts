import { Field, ObjectType } from 'type-graphql';
import type { AuthenticatedCaller } from '../../auth/authenticator.js';
import type { CallerDescription } from '../../auth/access-control.js';
import { CapabilitiesType } from './capabilities.type.js';
import { DatasetGrant } from './dataset-grant.type.js';
import { CredentialKindEnum } from './credential-kind.enum.js';

@ObjectType('Me', { description: 'The caller of the request, its role and what it may see.' })
export class Me {
  @Field({ description: 'Your id: `key:<API key id>` or `jwt:<token subject>`. Your export jobs belong to it.' })
  id!: string;

  @Field({ description: "The API key's name, or the token's name claim." })
  name!: string;

  @Field({ description: 'Your role in the access policy.' })
  role!: string;

  @Field(() => CredentialKindEnum)
  credential!: CredentialKindEnum;

  @Field(() => CapabilitiesType)
  capabilities!: CapabilitiesType;

  @Field(() => [DatasetGrant], { description: 'Every dataset you may see, in name order, with your grant on it.' })
  datasets!: DatasetGrant[];

  static from(caller: AuthenticatedCaller, d: CallerDescription): Me {
    return Object.assign(new Me(), {
      id: d.id,
      name: d.name,
      role: d.role,
      credential: caller.via === 'jwt' ? CredentialKindEnum.JWT : CredentialKindEnum.API_KEY,
      capabilities: CapabilitiesType.from(d.capabilities),
      datasets: d.datasets.map((g) => DatasetGrant.from(g)),
    });
  }
}
