import AjvCompiler from '@fastify/ajv-compiler';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import type { TSchema } from '@sinclair/typebox';
import type { FastifySchemaCompiler } from 'fastify';

// Fastify's own Ajv setup (its default options plus ajv-formats), except that unknown properties are
// refused instead of silently removed (removeAdditional: false): a query string with a misspelt or
// unexpected key is a 400, like an unknown body field. Its .d.ts types the returned compile function
// like Ajv's compile(schema); at runtime it takes Fastify's route definition.
const ajvCompile = AjvCompiler()({}, { customOptions: { removeAdditional: false } }) as unknown as FastifySchemaCompiler<TSchema>;

/**
 * Request validation, per part of the request:
 * - body: TypeBox's compiler. Strict: no type coercion ("100" is not an amount), unknown fields are
 *   errors (Fastify's Ajv defaults would coerce and silently strip them), and every failing field is reported.
 * - params, querystring, headers: Fastify's default Ajv, which coerces the wire strings to the declared
 *   types properly ("1.5" is not an integer; TypeBox's converter would truncate it to 1).
 */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = (route) =>
  route.httpPart === 'body' ? TypeBoxValidatorCompiler(route) : ajvCompile(route);
