import AjvCompiler from '@fastify/ajv-compiler';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import type { TSchema } from '@sinclair/typebox';
import type { FastifySchemaCompiler } from 'fastify';
import { uuidLowerCaser } from './uuid-case';

// Fastify's own Ajv setup (its default options plus ajv-formats), except that unknown properties are
// refused instead of silently removed (removeAdditional: false): a query string with a misspelt or
// unexpected key is a 400, like an unknown body field. Its .d.ts types the returned compile function
// like Ajv's compile(schema); at runtime it takes Fastify's route definition.
const ajvCompile = AjvCompiler()(
  {},
  { customOptions: { removeAdditional: false } },
) as unknown as FastifySchemaCompiler<TSchema>;

/**
 * Request validation, per part of the request:
 * - body: TypeBox's compiler. Strict: no type coercion ("100" is not an amount), unknown fields are
 *   errors (Fastify's Ajv defaults would coerce and silently strip them), and every failing field is reported.
 * - params, querystring, headers: Fastify's default Ajv, which coerces the wire strings to the declared
 *   types properly ("1.5" is not an integer; TypeBox's converter would truncate it to 1).
 * Then, in every part, the ids (`format: 'uuid'`) of a valid request are written in lower case
 * (api/uuid-case.ts): the one place a UUID's spelling is normalised.
 */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = (route) => {
  const validate: ReturnType<FastifySchemaCompiler<TSchema>> =
    route.httpPart === 'body' ? TypeBoxValidatorCompiler(route) : ajvCompile(route);
  const lowerCase = uuidLowerCaser(route.schema);
  if (!lowerCase) return validate;
  // Fastify's result contract for a custom compiler: { value } replaces the part, { error } refuses it.
  // (Ajv answers a boolean with its errors on the function; TypeBox answers { value } or { error }.)
  return (data: unknown) => {
    const result = validate(data);
    if (result === false) return { error: validate.errors ?? [] };
    if (result === true) return { value: lowerCase(data) }; // Ajv: `data` itself, coerced in place
    if ('then' in result) return result; // an async schema: none in this API
    return result.error === undefined ? { value: lowerCase(result.value) } : result;
  };
};
